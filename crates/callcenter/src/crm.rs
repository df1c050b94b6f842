//! The CRM's pure rules (manual chapters 4 and 5): how a phone number is
//! normalised so that the screen pop finds a caller whatever way the number
//! was typed or arrives, the closed value sets of the contact and customer
//! forms, and their validation. The store keeps the records; the web crate
//! shows them.

use std::fmt;

/// Longest phone number kept (digits after normalisation).
pub const MAX_NUMBER_DIGITS: usize = 24;

/// The number `raw` as the lookup compares it: spaces, dashes, dots and
/// brackets removed, then the country code of China in any of its forms
/// (`+86`, `0086`, `86` before an 11-digit mobile) and a leading trunk `0`
/// dropped, so that "+86 186-1861-6001", "0086 18618616001",
/// "018618616001" and "18618616001" are one number, and "010-6262 0668"
/// and "1062620668" too. Other international numbers keep their country
/// code without the `+` or `00`. `None` for text that is no phone number
/// (letters, nothing left, more than [`MAX_NUMBER_DIGITS`] digits).
pub fn normalize_number(raw: &str) -> Option<String> {
    let mut digits = String::with_capacity(raw.len());
    let mut plus = false;
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\u{3000}' => {}
            _ => return None,
        }
    }
    let mut rest = digits.as_str();
    if plus {
        rest = rest.strip_prefix("86").unwrap_or(rest);
    } else if let Some(r) = rest.strip_prefix("0086") {
        rest = r;
    } else if let Some(r) = rest.strip_prefix("00") {
        // Another country's number dialled with 00: keep its code.
        rest = r;
    } else if rest.len() == 13 && rest.starts_with("861") {
        // 86 before an 11-digit mobile number.
        rest = &rest[2..];
    }
    let rest = rest.strip_prefix('0').unwrap_or(rest);
    if rest.is_empty() || rest.len() > MAX_NUMBER_DIGITS {
        return None;
    }
    Some(rest.to_string())
}

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            #[default]
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the form's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored and sent in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value named `s` (as [`Self::as_str`] gives it).
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use closed_set;

closed_set! {
    /// A customer's type (5.2): the seven of the manual.
    CustomerType {
        /// 普通客户.
        Normal = "normal",
        /// VIP客户.
        Vip = "vip",
        /// 老客户.
        Old = "old",
        /// 代理商.
        Agent = "agent",
        /// 供货商.
        Supplier = "supplier",
        /// 合作伙伴.
        Partner = "partner",
        /// 其它.
        Other = "other",
    }
}

closed_set! {
    /// Whether a customer is a company (with contacts of its own) or a
    /// person (5.1: 企业客户 / 个人客户).
    CustomerKind {
        /// 个人客户.
        Personal = "personal",
        /// 企业客户.
        Enterprise = "enterprise",
    }
}

closed_set! {
    /// A contact's gender (男 / 女 / 未知).
    Gender {
        /// 未知.
        Unknown = "unknown",
        /// 男.
        Male = "male",
        /// 女.
        Female = "female",
    }
}

closed_set! {
    /// Who else sees a record (共享): only its owner (and those whose data
    /// scope covers the owner), or everyone who may see the CRM.
    Sharing {
        /// 不共享.
        Private = "private",
        /// 所有人.
        Everyone = "everyone",
    }
}

/// Why a CRM record cannot be saved: the field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the form and the API call it.
    pub field: &'static str,
    /// What is wrong, in English (the web crate translates by field).
    pub why: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

/// Longest free text of a name-like field.
pub const MAX_NAME: usize = 100;
/// Longest remarks or description.
pub const MAX_TEXT: usize = 2000;

/// Checks a required name (not blank, at most [`MAX_NAME`] characters).
pub fn check_name(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError {
            field,
            why: "is required".into(),
        });
    }
    check_len(field, value, MAX_NAME)
}

/// Checks that `value` has at most `max` characters.
pub fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError {
            field,
            why: format!("is longer than {max} characters"),
        });
    }
    Ok(())
}

/// Checks an optional phone number: empty, or one [`normalize_number`]
/// accepts.
pub fn check_phone(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() || normalize_number(value).is_some() {
        return Ok(());
    }
    Err(FieldError {
        field,
        why: format!("'{value}' is not a phone number"),
    })
}

/// Checks an optional e-mail address (empty, or something@domain).
pub fn check_email(field: &'static str, value: &str) -> Result<(), FieldError> {
    let v = value.trim();
    let ok = v.is_empty()
        || v.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }) && !v.contains(char::is_whitespace)
            && v.len() <= 254;
    if ok {
        Ok(())
    } else {
        Err(FieldError {
            field,
            why: format!("'{value}' is not an e-mail address"),
        })
    }
}

/// Checks an optional date (`YYYY-MM-DD`, a real day).
pub fn check_date(field: &'static str, value: &str) -> Result<(), FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(());
    }
    // Exactly YYYY-MM-DD, a day that exists.
    let real = v.len() == 10 && chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
    if real {
        Ok(())
    } else {
        Err(FieldError {
            field,
            why: format!("'{value}' is not a date (YYYY-MM-DD)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mobile_number_in_every_written_form_normalises_alike() {
        for raw in [
            "18618616001",
            "+86 186-1861-6001",
            "+8618618616001",
            "0086 18618616001",
            "8618618616001",
            "018618616001",
            " 186 1861 6001 ",
            "(186)18616001",
        ] {
            assert_eq!(
                normalize_number(raw).as_deref(),
                Some("18618616001"),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_landline_with_its_area_code_loses_the_trunk_zero_only() {
        assert_eq!(
            normalize_number("010-6262 0668").as_deref(),
            Some("1062620668")
        );
        assert_eq!(
            normalize_number("+86 10 62620668").as_deref(),
            Some("1062620668")
        );
        assert_eq!(
            normalize_number("1062620668").as_deref(),
            Some("1062620668")
        );
        // An extension stays what it is.
        assert_eq!(normalize_number("1001").as_deref(), Some("1001"));
    }

    #[test]
    fn other_countries_keep_their_code_and_text_is_no_number() {
        assert_eq!(
            normalize_number("+1 415 555 0100").as_deref(),
            Some("14155550100")
        );
        assert_eq!(
            normalize_number("001 415 555 0100").as_deref(),
            Some("14155550100")
        );
        for bad in [
            "",
            "   ",
            "+",
            "abc",
            "186x1861",
            "1+2",
            "0",
            "1234567890123456789012345",
        ] {
            assert_eq!(normalize_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_closed_sets_round_trip_and_refuse_unknown_values() {
        for t in CustomerType::ALL {
            assert_eq!(CustomerType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(CustomerType::ALL.len(), 7);
        assert_eq!(CustomerType::parse("VIP"), None);
        assert_eq!(CustomerKind::default(), CustomerKind::Personal);
        assert_eq!(Gender::parse("female"), Some(Gender::Female));
        assert_eq!(Sharing::parse("everyone"), Some(Sharing::Everyone));
    }

    #[test]
    fn fields_are_checked_with_the_field_named() {
        assert_eq!(check_name("name", "  ").unwrap_err().field, "name");
        assert!(check_name("name", &"名".repeat(MAX_NAME)).is_ok());
        assert!(check_name("name", &"名".repeat(MAX_NAME + 1)).is_err());
        assert!(check_phone("mobile", "").is_ok());
        assert!(check_phone("mobile", "186 1861 6001").is_ok());
        assert!(check_phone("mobile", "call me").is_err());
        assert!(check_email("email", "a@b.cn").is_ok());
        assert!(check_email("email", "a@b").is_err());
        assert!(check_email("email", "a b@c.cn").is_err());
        assert!(check_date("birthday", "2024-02-29").is_ok());
        assert!(check_date("birthday", "2023-02-29").is_err());
        assert!(check_date("birthday", "2024-13-01").is_err());
        assert!(check_date("birthday", "1/2/2024").is_err());
    }
}
