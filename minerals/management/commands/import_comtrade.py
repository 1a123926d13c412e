from minerals.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import UN Comtrade CSV files (API extracts or Comtrade+ downloads) as reported trade flows."
    importer = "comtrade"
