"""Reading delivered logs back: readers per destination, DuckDB views, named reports, plots."""
