-- Persona jurídica: the company's line of business and its legal representative.
ALTER TABLE accounts ADD COLUMN giro TEXT;
ALTER TABLE accounts ADD COLUMN rep_rut TEXT;
ALTER TABLE accounts ADD COLUMN rep_nombres TEXT;
ALTER TABLE accounts ADD COLUMN rep_apellidos TEXT;
ALTER TABLE accounts ADD COLUMN rep_email TEXT;
ALTER TABLE accounts ADD COLUMN rep_celular TEXT;
