"""Codecs shared by writers and readers: text lines, Parquet, S3 keys and file names, CloudWatch names."""
