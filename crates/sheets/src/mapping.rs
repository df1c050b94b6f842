//! Matching a sheet's headers to the importer's fields.

use std::collections::HashMap;

/// A field the importer fills, with the header names users give it: e.g.
/// `phone` with aliases `["电话", "手机", "Phone number"]`. Names and
/// aliases match headers ignoring case and surrounding or repeated blanks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's own name, also accepted as a header.
    pub name: &'static str,
    /// Other header names for this field.
    pub aliases: &'static [&'static str],
    /// Whether a file without a column for this field is refused.
    pub required: bool,
}

/// How a sheet's columns map to fields (see [`map_columns`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    /// Per header, in order: the name of the field it fills, or `None`.
    pub columns: Vec<Option<&'static str>>,
    /// Headers that match no field, as written (empty headers excluded):
    /// the importer can list them as ignored.
    pub unknown: Vec<String>,
    /// Required fields no header matches, in field order.
    pub missing: Vec<&'static str>,
    /// Headers that match a field an earlier column already fills (e.g.
    /// both "电话" and "手机" for `phone`), as written: they are not used,
    /// and the importer should tell the user which column was taken.
    pub repeated: Vec<String>,
}

/// A header or alias as compared: trimmed, inner blanks (full-width ones
/// too) made one space, lower case.
fn key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Maps each header to the field whose name or alias it matches. The first
/// column for a field wins; later ones are listed in
/// [`Mapping::repeated`]. When two fields claim the same alias, the first
/// field listed gets it.
pub fn map_columns(headers: &[String], fields: &[Field]) -> Mapping {
    let mut by_key: HashMap<String, &'static str> = HashMap::new();
    for field in fields {
        for name in std::iter::once(&field.name).chain(field.aliases) {
            by_key.entry(key(name)).or_insert(field.name);
        }
    }
    let mut mapping = Mapping::default();
    let mut taken: Vec<&'static str> = Vec::new();
    for header in headers {
        let k = key(header);
        let field = if k.is_empty() {
            None
        } else {
            match by_key.get(&k) {
                Some(&name) if taken.contains(&name) => {
                    mapping.repeated.push(header.clone());
                    None
                }
                Some(&name) => {
                    taken.push(name);
                    Some(name)
                }
                None => {
                    mapping.unknown.push(header.clone());
                    None
                }
            }
        };
        mapping.columns.push(field);
    }
    mapping.missing = fields
        .iter()
        .filter(|f| f.required && !taken.contains(&f.name))
        .map(|f| f.name)
        .collect();
    mapping
}
