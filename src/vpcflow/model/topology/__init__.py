"""The network model: typed dataclasses (``model``), the file loader and validator (``loader``),
and the importer of AWS CLI describe-* JSON (``aws_import``)."""
