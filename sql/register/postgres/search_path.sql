-- Every connection names the register's tables unqualified. {schema} is its name.
SET search_path TO "{schema}"
