//! Chile's regions and comunas with their official CUT codes (Código Único Territorial,
//! SUBDERE). The vetted CSVs in `data/` are compiled in: reference data, not configuration.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

const REGIONES_CSV: &str = include_str!("../data/regiones.csv");
const COMUNAS_CSV: &str = include_str!("../data/comunas.csv");

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    pub codigo: u16,
    pub numeral: String,
    pub nombre: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comuna {
    pub codigo: u32,
    pub nombre: String,
    pub codigo_region: u16,
}

/// The whole catalogue, ordered by code.
#[derive(Debug)]
pub struct Catalogue {
    regiones: BTreeMap<u16, Region>,
    comunas: BTreeMap<u32, Comuna>,
    /// CUT code by folded name (see [`Catalogue::comuna_named`]).
    by_name: BTreeMap<String, u32>,
}

static CHILE: LazyLock<Catalogue> = LazyLock::new(|| {
    Catalogue::from_csv(REGIONES_CSV, COMUNAS_CSV)
        .unwrap_or_else(|e| panic!("the compiled-in territory data is invalid: {e}"))
});

impl Catalogue {
    /// Chile's catalogue, parsed once from the compiled-in data (verified by tests).
    pub fn chile() -> &'static Catalogue {
        &CHILE
    }

    fn from_csv(regiones: &str, comunas: &str) -> Result<Self, String> {
        let mut catalogue = Catalogue {
            regiones: BTreeMap::new(),
            comunas: BTreeMap::new(),
            by_name: BTreeMap::new(),
        };
        for line in data_lines(regiones) {
            let [codigo, numeral, nombre] = fields(line)?;
            let codigo = codigo.parse().map_err(|_| format!("bad region {line}"))?;
            catalogue.regiones.insert(
                codigo,
                Region {
                    codigo,
                    numeral: numeral.to_owned(),
                    nombre: nombre.to_owned(),
                },
            );
        }
        for line in data_lines(comunas) {
            let [codigo, nombre, region] = fields(line)?;
            let comuna = Comuna {
                codigo: codigo.parse().map_err(|_| format!("bad comuna {line}"))?,
                nombre: nombre.to_owned(),
                codigo_region: region.parse().map_err(|_| format!("bad comuna {line}"))?,
            };
            if !catalogue.regiones.contains_key(&comuna.codigo_region) {
                return Err(format!("comuna {line} names an unknown region"));
            }
            if catalogue
                .by_name
                .insert(fold(&comuna.nombre), comuna.codigo)
                .is_some()
            {
                return Err(format!("comuna {line}: two comunas of that name"));
            }
            if catalogue.comunas.insert(comuna.codigo, comuna).is_some() {
                return Err(format!("comuna {line} appears twice"));
            }
        }
        Ok(catalogue)
    }

    pub fn regiones(&self) -> impl Iterator<Item = &Region> {
        self.regiones.values()
    }

    pub fn region(&self, codigo: u16) -> Option<&Region> {
        self.regiones.get(&codigo)
    }

    pub fn comuna(&self, codigo: u32) -> Option<&Comuna> {
        self.comunas.get(&codigo)
    }

    /// The comuna named `name`, whatever its case, accents and spacing (`"los angeles"`
    /// is Los Ángeles): data brought from elsewhere spells names as it likes.
    pub fn comuna_named(&self, name: &str) -> Option<&Comuna> {
        self.by_name
            .get(&fold(name))
            .and_then(|codigo| self.comunas.get(codigo))
    }

    /// The comuna `text` names by CUT code (`13101`) or by name (`Santiago`).
    pub fn comuna_by_code_or_name(&self, text: &str) -> Option<&Comuna> {
        let text = text.trim();
        match text.parse::<u32>() {
            Ok(codigo) => self.comuna(codigo),
            Err(_) => self.comuna_named(text),
        }
    }

    pub fn comunas(&self) -> impl Iterator<Item = &Comuna> {
        self.comunas.values()
    }

    /// The comunas of one region, by code; empty for an unknown region.
    pub fn comunas_of(&self, region: u16) -> impl Iterator<Item = &Comuna> {
        self.comunas
            .values()
            .filter(move |c| c.codigo_region == region)
    }
}

/// A name as compared: the folding of secret answers (case, accents, spacing).
fn fold(name: &str) -> String {
    crate::contact::normalize_answer(name)
}

fn data_lines(csv: &str) -> impl Iterator<Item = &str> {
    csv.lines().skip(1).filter(|l| !l.trim().is_empty())
}

fn fields(line: &str) -> Result<[&str; 3], String> {
    let parts: Vec<&str> = line.split(',').map(str::trim).collect();
    <[&str; 3]>::try_from(parts).map_err(|_| format!("expected three fields: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_every_region_and_comuna() {
        let chile = Catalogue::chile();
        assert_eq!(chile.regiones().count(), 16);
        assert_eq!(chile.comunas().count(), 346);
        assert_eq!(chile.comunas_of(13).count(), 52);
        let total: usize = chile
            .regiones()
            .map(|r| chile.comunas_of(r.codigo).count())
            .sum();
        assert_eq!(total, 346, "each comuna in exactly one region");
    }

    #[test]
    fn knows_the_official_codes_and_spelling() {
        let chile = Catalogue::chile();
        assert_eq!(
            chile.comuna(13101).map(|c| c.nombre.as_str()),
            Some("Santiago")
        );
        assert_eq!(
            chile.comuna(5101).map(|c| c.nombre.as_str()),
            Some("Valparaíso")
        );
        assert_eq!(
            chile.comuna(16101).map(|c| c.nombre.as_str()),
            Some("Chillán")
        );
        assert_eq!(
            chile.comuna(8301).map(|c| c.nombre.as_str()),
            Some("Los Ángeles")
        );
        assert_eq!(chile.region(16).map(|r| r.nombre.as_str()), Some("Ñuble"));
        for (text, codigo) in [("13101", 13101), ("los  ANGELES", 8301), ("Chillán", 16101)] {
            assert_eq!(
                chile.comuna_by_code_or_name(text).map(|c| c.codigo),
                Some(codigo),
                "{text}"
            );
        }
        assert!(chile.comuna_by_code_or_name("99999").is_none());
        assert!(chile.comuna_by_code_or_name("Gotham").is_none());
        assert!(
            chile
                .comunas()
                .all(|c| c.codigo / 1000 == u32::from(c.codigo_region))
        );
    }
}
