"""Customer import: a source system's CSV or XLSX file read as a stream (reading.py), checked a chunk
at a time with vectorised rules (validation.py), staged and resolved set-based in one transaction
(apply.py), and the services the command, the pages and the run call (services.py)."""
