//! The columns of an import file: matched by header name in any order; an unknown or
//! repeated column, or a missing required one, stops the import before anything is read.

use std::collections::HashMap;

/// Every column an import file may have.
pub const KNOWN: [&str; 26] = [
    "rut",
    "tipo",
    "nombres",
    "apellido_paterno",
    "apellido_materno",
    "razon_social",
    "giro",
    "email",
    "celular",
    "telefono_particular",
    "telefono_trabajo",
    "calle",
    "numero",
    "block",
    "departamento",
    "comuna",
    "pregunta",
    "respuesta",
    "respuesta_hash",
    "cus_hash",
    "rep_rut",
    "rep_nombres",
    "rep_apellidos",
    "rep_email",
    "rep_celular",
    "email_verificado",
];

/// The columns every file has: what registration requires of both kinds of persona. The
/// others may be absent (read as empty), and the rules of each row say which it needs.
const REQUIRED: [&str; 7] = [
    "rut", "tipo", "email", "calle", "numero", "comuna", "pregunta",
];

/// Where each column of the file is.
#[derive(Debug)]
pub struct Columns {
    at: HashMap<&'static str, usize>,
}

impl Columns {
    /// Reads the header row.
    pub fn from_header(header: &csv::StringRecord) -> anyhow::Result<Self> {
        let mut at = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            // A byte-order mark some spreadsheets write before the first name.
            let name = name.trim_start_matches('\u{feff}').trim();
            let Some(known) = KNOWN.iter().find(|k| **k == name) else {
                anyhow::bail!(
                    "unknown column {name:?} in the header (the columns are: {})",
                    KNOWN.join(", ")
                );
            };
            if at.insert(*known, i).is_some() {
                anyhow::bail!("column {name:?} appears twice in the header");
            }
        }
        let missing: Vec<&str> = REQUIRED
            .into_iter()
            .filter(|c| !at.contains_key(c))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!("the header lacks the column(s) {}", missing.join(", "));
        }
        if !at.contains_key("respuesta") && !at.contains_key("respuesta_hash") {
            anyhow::bail!("the header needs a respuesta or a respuesta_hash column");
        }
        Ok(Self { at })
    }

    /// The value of `column` in `record`; empty when the file has no such column.
    pub fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> &'r str {
        self.at
            .get(column)
            .and_then(|i| record.get(*i))
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_by_name_in_any_order_and_nothing_unknown() {
        let header = csv::StringRecord::from(vec![
            "\u{feff}tipo",
            "rut",
            "email",
            "calle",
            "numero",
            "comuna",
            "pregunta",
            "respuesta",
        ]);
        let columns = Columns::from_header(&header).expect("a good header");
        let row = csv::StringRecord::from(vec!["natural", "1-9", "a@b.cl"]);
        assert_eq!(columns.get(&row, "rut"), "1-9");
        assert_eq!(columns.get(&row, "tipo"), "natural");
        assert_eq!(
            columns.get(&row, "giro"),
            "",
            "an absent column reads empty"
        );
        let mut unknown = header.clone();
        unknown.push_field("password");
        assert!(Columns::from_header(&unknown).is_err());
        let mut twice = header.clone();
        twice.push_field("rut");
        assert!(Columns::from_header(&twice).is_err());
        let short = csv::StringRecord::from(vec!["rut", "tipo"]);
        assert!(Columns::from_header(&short).is_err());
    }
}
