"""Writers of what people open: results.csv, the branch workbooks, the summary, the report."""
