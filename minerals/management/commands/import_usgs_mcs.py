from minerals.import_command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import USGS Mineral Commodity Summaries CSV files: the MCS 2025 world file, the per-commodity world "
        "files of the 2024/2023 editions, salient statistics, T5 and Fig2 (a folder or a list of files)."
    )
    importer = "usgs_mcs"
