"""HTTP schemas, one module per resource: XBase / XCreate / XUpdate / XPublic."""
