"""A department (or a national program) running many municipalities in one deployment.

A department landing folder holds one subfolder per municipality, named by its 5-digit DANE
code; each municipality gets its own warehouse file (``<warehouse dir>/<code>.duckdb``) and the
department reads only aggregates from them (``department.duckdb``).
"""
