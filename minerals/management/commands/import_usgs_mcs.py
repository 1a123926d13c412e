from minerals.import_command import ImportCommand


class Command(ImportCommand):
    importer = "usgs_mcs"
