//! Contact header values (RFC 3261 §20.10 and the grammar of §25.1), parsed
//! exactly: `*`, or a comma-separated list of name-addr / addr-spec entries
//! with their header parameters.
//!
//! rsip's own Contact type loses or mangles what RFC 5626/5627 phones send
//! (`+sip.instance="<urn:uuid:...>"` has a `<` and a `>` inside a quoted
//! string), and the registrar must give every parameter back in its 200 OK as
//! it was sent. So this parser keeps each parameter's name and value as raw
//! slices of the input (a quoted value keeps its quotes and escapes) and only
//! drops the optional whitespace around `;` and `=`; [`Param::render`] writes
//! one back. It never panics and never allocates per character: input comes
//! straight off the wire.

use std::borrow::Cow;
use std::fmt;

/// One entry of a Contact header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactEntry<'a> {
    /// `*`: every binding (REGISTER with `Expires: 0` only).
    Star,
    /// A contact address with its header parameters.
    Addr(ContactAddr<'a>),
}

/// A contact address: `[display-name] <uri>;params` or `uri;params`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactAddr<'a> {
    /// The display name as written (quotes included when it was quoted);
    /// `None` when there was none.
    pub display_name: Option<&'a str>,
    /// The URI, without the angle brackets.
    pub uri: &'a str,
    /// Whether the URI was in angle brackets (name-addr form).
    pub bracketed: bool,
    /// The header parameters, in the order sent.
    pub params: Vec<Param<'a>>,
}

/// One header parameter (`;name` or `;name=value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as sent (compare it case-insensitively).
    pub name: &'a str,
    /// The value as sent: a token, a host, or a quoted string with its
    /// quotes and escapes. `None` for a parameter without `=`.
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// Whether the parameter is called `name` (parameter names are
    /// case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value with a quoted string's quotes and escapes removed.
    pub fn unquoted(&self) -> Option<Cow<'a, str>> {
        self.value.map(unquote)
    }

    /// Appends `;name` or `;name=value` exactly as parsed.
    pub fn render(&self, out: &mut String) {
        out.push(';');
        out.push_str(self.name);
        if let Some(v) = self.value {
            out.push('=');
            out.push_str(v);
        }
    }
}

impl<'a> ContactAddr<'a> {
    /// The first parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&Param<'a>> {
        self.params.iter().find(|p| p.is(name))
    }
}

/// Why a Contact value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactError {
    /// Nothing but whitespace.
    Empty,
    /// A `"` without its closing `"`.
    UnterminatedQuote,
    /// A `<` without its closing `>`.
    UnterminatedAngle,
    /// A control character (other than tab) or a bare `\` at the end.
    ControlCharacter,
    /// A display name not followed by `<uri>`.
    MissingUri,
    /// An empty URI (`<>` or nothing before the parameters).
    EmptyUri,
    /// `;` not followed by a parameter name, or a name with characters a
    /// token may not have.
    BadParamName,
    /// `=` not followed by a value, or a value with characters a token or
    /// host may not have.
    BadParamValue,
    /// Something other than `;` or `,` after an entry's URI or parameter.
    UnexpectedCharacter,
    /// `*` together with other contacts or with parameters.
    BadWildcard,
}

impl ContactError {
    /// A short reason phrase for the 400 answering it.
    pub fn reason(self) -> &'static str {
        match self {
            ContactError::Empty => "Empty Contact header",
            ContactError::UnterminatedQuote => "Malformed Contact: unterminated quoted string",
            ContactError::UnterminatedAngle => "Malformed Contact: missing '>'",
            ContactError::ControlCharacter => "Malformed Contact: control character",
            ContactError::MissingUri => "Malformed Contact: display name without <URI>",
            ContactError::EmptyUri => "Malformed Contact: empty URI",
            ContactError::BadParamName => "Malformed Contact parameter name",
            ContactError::BadParamValue => "Malformed Contact parameter value",
            ContactError::UnexpectedCharacter => "Malformed Contact: expected ';' or ','",
            ContactError::BadWildcard => "Contact * must stand alone",
        }
    }
}

impl fmt::Display for ContactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for ContactError {}

/// Parses one Contact header value (several entries separated by commas).
/// A value that is only `*` gives `[Star]`; `*` anywhere else is refused.
pub fn parse(value: &str) -> Result<Vec<ContactEntry<'_>>, ContactError> {
    let mut p = Parser {
        s: value,
        b: value.as_bytes(),
        i: 0,
    };
    p.skip_lws();
    if p.at_end() {
        return Err(ContactError::Empty);
    }
    if p.peek() == Some(b'*') {
        p.i += 1;
        p.skip_lws();
        return if p.at_end() {
            Ok(vec![ContactEntry::Star])
        } else {
            Err(ContactError::BadWildcard)
        };
    }
    let mut out = Vec::new();
    loop {
        p.skip_lws();
        // Empty list elements (`a, , b`) are tolerated, as RFC 7230 §7 asks.
        if p.peek() == Some(b',') {
            p.i += 1;
            continue;
        }
        if p.at_end() {
            break;
        }
        if p.peek() == Some(b'*') {
            return Err(ContactError::BadWildcard);
        }
        out.push(ContactEntry::Addr(p.entry()?));
        p.skip_lws();
        match p.peek() {
            None => break,
            Some(b',') => p.i += 1,
            Some(_) => return Err(ContactError::UnexpectedCharacter),
        }
    }
    if out.is_empty() {
        return Err(ContactError::Empty);
    }
    Ok(out)
}

/// Parses every value in `values` (one per Contact header line) into one
/// list, as RFC 3261 §7.3.1 says several lines are one comma list.
pub fn parse_all<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ContactEntry<'a>>, ContactError> {
    let mut out = Vec::new();
    for v in values {
        out.extend(parse(v)?);
    }
    Ok(out)
}

/// Parses a parameter list alone (`;a=1;b`, as [`Param::render`] writes
/// them; empty gives none), e.g. parameters stored with a binding.
pub fn parse_params(value: &str) -> Result<Vec<Param<'_>>, ContactError> {
    let mut p = Parser {
        s: value,
        b: value.as_bytes(),
        i: 0,
    };
    let mut params = Vec::new();
    loop {
        p.skip_lws();
        match p.peek() {
            None => return Ok(params),
            Some(b';') => {
                p.i += 1;
                params.push(p.param()?);
            }
            Some(_) => return Err(ContactError::UnexpectedCharacter),
        }
    }
}

/// Removes a quoted string's quotes and backslash escapes; other values are
/// returned as they are.
pub fn unquote(v: &str) -> Cow<'_, str> {
    let Some(inner) = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|_| v.len() >= 2)
    else {
        return Cow::Borrowed(v);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    Cow::Owned(out)
}

/// RFC 3261 `token` characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Characters of an unquoted `gen-value`: a token or a host (IPv6
/// references bring `[`, `]` and `:`).
fn is_value_char(b: u8) -> bool {
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Linear whitespace (a folded line was already unfolded by the parser
    /// of the message, so only spaces and tabs are left).
    fn skip_lws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        // Both ends are at ASCII bytes (delimiters), so on char boundaries.
        self.s.get(from..to).unwrap_or("")
    }

    /// One contact: name-addr or addr-spec, then its parameters.
    fn entry(&mut self) -> Result<ContactAddr<'a>, ContactError> {
        let start = self.i;
        let (display_name, uri, bracketed) = if self.peek() == Some(b'"') {
            let end = self.quoted()?;
            let name = self.slice(start, end);
            self.skip_lws();
            if self.peek() != Some(b'<') {
                return Err(ContactError::MissingUri);
            }
            (Some(name), self.bracketed_uri()?, true)
        } else if self.angle_ahead() {
            let name = self.slice(start, self.i).trim_end_matches([' ', '\t']);
            (
                (!name.is_empty()).then_some(name),
                self.bracketed_uri()?,
                true,
            )
        } else {
            (None, self.bare_uri()?, false)
        };
        let mut params = Vec::new();
        loop {
            self.skip_lws();
            if self.peek() != Some(b';') {
                break;
            }
            self.i += 1;
            params.push(self.param()?);
        }
        Ok(ContactAddr {
            display_name,
            uri,
            bracketed,
            params,
        })
    }

    /// Moves to the `<` that ends an unquoted display name, if the entry is
    /// in name-addr form: a `<` comes before any `,`, `;` or `"`. Display
    /// names are taken leniently (UTF-8, parentheses...), as phones write them.
    fn angle_ahead(&mut self) -> bool {
        let mut j = self.i;
        while let Some(&c) = self.b.get(j) {
            match c {
                b'<' => {
                    self.i = j;
                    return true;
                }
                b',' | b';' | b'"' => return false,
                c if c < 0x20 || c == 0x7f => return false,
                _ => j += 1,
            }
        }
        false
    }

    /// `<uri>`, at the `<`.
    fn bracketed_uri(&mut self) -> Result<&'a str, ContactError> {
        self.i += 1;
        let from = self.i;
        loop {
            match self.peek() {
                None => return Err(ContactError::UnterminatedAngle),
                Some(b'>') => break,
                // A URI has no quotes, brackets, spaces or controls.
                Some(b'<' | b'"' | b' ' | b'\t') => return Err(ContactError::UnterminatedAngle),
                Some(c) if c < 0x20 || c == 0x7f => return Err(ContactError::ControlCharacter),
                Some(_) => self.i += 1,
            }
        }
        let uri = self.slice(from, self.i);
        self.i += 1;
        if uri.is_empty() {
            return Err(ContactError::EmptyUri);
        }
        Ok(uri)
    }

    /// An addr-spec without brackets: it ends at `;`, `,` or whitespace (its
    /// parameters are header parameters, RFC 3261 §20.10).
    fn bare_uri(&mut self) -> Result<&'a str, ContactError> {
        let from = self.i;
        while let Some(c) = self.peek() {
            match c {
                b';' | b',' | b' ' | b'\t' => break,
                b'<' | b'>' | b'"' => return Err(ContactError::UnexpectedCharacter),
                c if c < 0x20 || c == 0x7f => return Err(ContactError::ControlCharacter),
                _ => self.i += 1,
            }
        }
        if self.i == from {
            return Err(ContactError::EmptyUri);
        }
        Ok(self.slice(from, self.i))
    }

    /// `name [= value]`, after the `;`.
    fn param(&mut self) -> Result<Param<'a>, ContactError> {
        self.skip_lws();
        let from = self.i;
        while self.peek().is_some_and(is_token) {
            self.i += 1;
        }
        if self.i == from {
            return Err(ContactError::BadParamName);
        }
        let name = self.slice(from, self.i);
        self.skip_lws();
        if self.peek() != Some(b'=') {
            return Ok(Param { name, value: None });
        }
        self.i += 1;
        self.skip_lws();
        let from = self.i;
        if self.peek() == Some(b'"') {
            let end = self.quoted()?;
            return Ok(Param {
                name,
                value: Some(self.slice(from, end)),
            });
        }
        while self.peek().is_some_and(is_value_char) {
            self.i += 1;
        }
        if self.i == from {
            return Err(ContactError::BadParamValue);
        }
        Ok(Param {
            name,
            value: Some(self.slice(from, self.i)),
        })
    }

    /// A quoted string at the opening `"`; returns the index just past the
    /// closing one. `\` escapes any character but CR and LF (RFC 3261
    /// `quoted-pair`); other controls but tab are refused.
    fn quoted(&mut self) -> Result<usize, ContactError> {
        self.i += 1;
        loop {
            match self.peek() {
                None => return Err(ContactError::UnterminatedQuote),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(self.i);
                }
                Some(b'\\') => match self.b.get(self.i + 1) {
                    None => return Err(ContactError::UnterminatedQuote),
                    Some(b'\r' | b'\n') => return Err(ContactError::ControlCharacter),
                    Some(_) => self.i += 2,
                },
                Some(b'\t') => self.i += 1,
                Some(c) if c < 0x20 || c == 0x7f => return Err(ContactError::ControlCharacter),
                Some(_) => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr<'a>(e: &'a ContactEntry<'a>) -> &'a ContactAddr<'a> {
        match e {
            ContactEntry::Addr(a) => a,
            ContactEntry::Star => panic!("star"),
        }
    }

    fn rendered(a: &ContactAddr<'_>) -> String {
        let mut s = String::new();
        for p in &a.params {
            p.render(&mut s);
        }
        s
    }

    #[test]
    fn linphone_instance_with_angle_brackets_inside_quotes() {
        let v = "<sip:1004@127.0.0.1:5062;transport=udp>;+sip.instance=\"<urn:uuid:7f4c2a1e-0d3b-4f3e-9a55-0123456789ab>\";+org.linphone.specs=\"ephemeral/1.1,groupchat/1.2,lime\"";
        let list = parse(v).expect("parses");
        assert_eq!(list.len(), 1, "the comma inside quotes separates nothing");
        let a = addr(&list[0]);
        assert_eq!(a.uri, "sip:1004@127.0.0.1:5062;transport=udp");
        assert!(a.bracketed);
        assert_eq!(a.display_name, None);
        assert_eq!(
            a.param("+SIP.INSTANCE")
                .and_then(|p| p.unquoted())
                .as_deref(),
            Some("<urn:uuid:7f4c2a1e-0d3b-4f3e-9a55-0123456789ab>")
        );
        assert_eq!(
            rendered(a),
            v.trim_start_matches("<sip:1004@127.0.0.1:5062;transport=udp>")
        );
    }

    #[test]
    fn pjsua_outbound_form_keeps_order_and_flags() {
        let v = "<sip:1004@127.0.0.1:5064;ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-0000a1b2c3d4>\";+sip.ice;expires=300;q=0.5";
        let list = parse(v).expect("parses");
        let a = addr(&list[0]);
        assert_eq!(a.uri, "sip:1004@127.0.0.1:5064;ob");
        let names: Vec<&str> = a.params.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            ["reg-id", "+sip.instance", "+sip.ice", "expires", "q"]
        );
        assert_eq!(a.param("+sip.ice").map(|p| p.value), Some(None));
        assert_eq!(a.param("Expires").and_then(|p| p.value), Some("300"));
        assert_eq!(a.param("q").and_then(|p| p.value), Some("0.5"));
    }

    #[test]
    fn display_names_quoted_with_commas_and_escapes_or_bare() {
        let v =
            "\"Smith, John \\\"JS\\\" <x>\" <sip:js@h>;expires=60, Bob Lee <sip:bob@h>, <sip:c@h>";
        let list = parse(v).expect("parses");
        assert_eq!(list.len(), 3);
        assert_eq!(
            addr(&list[0]).display_name,
            Some("\"Smith, John \\\"JS\\\" <x>\"")
        );
        assert_eq!(
            unquote(addr(&list[0]).display_name.unwrap_or_default()),
            "Smith, John \"JS\" <x>"
        );
        assert_eq!(addr(&list[0]).uri, "sip:js@h");
        assert_eq!(addr(&list[1]).display_name, Some("Bob Lee"));
        assert_eq!(addr(&list[1]).uri, "sip:bob@h");
        assert_eq!(addr(&list[2]).display_name, None);
    }

    #[test]
    fn addr_spec_form_parameters_are_header_parameters() {
        let list = parse("sip:a@h:5060;expires=60 ; q = 0.7 ,sips:b@[2001:db8::1]").expect("ok");
        let a = addr(&list[0]);
        assert_eq!(a.uri, "sip:a@h:5060");
        assert!(!a.bracketed);
        assert_eq!(rendered(a), ";expires=60;q=0.7");
        assert_eq!(addr(&list[1]).uri, "sips:b@[2001:db8::1]");
    }

    #[test]
    fn methods_list_and_ipv6_values_and_escaped_quotes() {
        let v = "<sip:a@h>;methods=\"INVITE, ACK, BYE\";received=[2001:db8::9];x=\"a\\\\\";y";
        let a = parse(v).expect("ok");
        let a = addr(&a[0]);
        assert_eq!(
            a.param("methods").and_then(|p| p.unquoted()).as_deref(),
            Some("INVITE, ACK, BYE")
        );
        assert_eq!(
            a.param("received").and_then(|p| p.value),
            Some("[2001:db8::9]")
        );
        assert_eq!(
            a.param("x").and_then(|p| p.unquoted()).as_deref(),
            Some("a\\")
        );
        assert_eq!(rendered(a), v.trim_start_matches("<sip:a@h>"));
    }

    #[test]
    fn rendered_parameters_parse_back_alone() {
        let v = "<sip:a@h>;reg-id=1;+sip.instance=\"<urn:uuid:1>\";+sip.ice";
        let list = parse(v).expect("ok");
        let text = rendered(addr(&list[0]));
        assert_eq!(parse_params(&text), Ok(addr(&list[0]).params.clone()));
        assert_eq!(parse_params(""), Ok(vec![]));
        assert_eq!(parse_params("x"), Err(ContactError::UnexpectedCharacter));
    }

    #[test]
    fn star_alone_only() {
        assert_eq!(parse(" * "), Ok(vec![ContactEntry::Star]));
        assert_eq!(parse("*;expires=0"), Err(ContactError::BadWildcard));
        assert_eq!(parse("<sip:a@h>, *"), Err(ContactError::BadWildcard));
    }

    #[test]
    fn several_header_lines_make_one_list() {
        let list = parse_all(["<sip:a@h>", "<sip:b@h>;expires=0, <sip:c@h>"]).expect("ok");
        let uris: Vec<&str> = list.iter().map(|e| addr(e).uri).collect();
        assert_eq!(uris, ["sip:a@h", "sip:b@h", "sip:c@h"]);
    }

    #[test]
    fn hostile_input_is_refused_cleanly() {
        let cases: &[(&str, ContactError)] = &[
            ("", ContactError::Empty),
            ("  ,  ", ContactError::Empty),
            ("<sip:a@h", ContactError::UnterminatedAngle),
            ("<sip:a@h;x=\">", ContactError::UnterminatedAngle),
            ("<sip:a@h>;x=\"open", ContactError::UnterminatedQuote),
            (
                "<sip:a@h>;x=\"ends in backslash\\",
                ContactError::UnterminatedQuote,
            ),
            ("\"name only\"", ContactError::MissingUri),
            ("\"unterminated <sip:a@h>", ContactError::UnterminatedQuote),
            ("<>", ContactError::EmptyUri),
            ("<sip:a@h>;", ContactError::BadParamName),
            ("<sip:a@h>;=1", ContactError::BadParamName),
            ("<sip:a@h>;x=", ContactError::BadParamValue),
            ("<sip:a@h>;x=a{b", ContactError::UnexpectedCharacter),
            ("<sip:a@h> junk", ContactError::UnexpectedCharacter),
            ("<sip:a@h>;x=\"a\u{1}b\"", ContactError::ControlCharacter),
            ("<sip:a\u{0}@h>", ContactError::ControlCharacter),
            ("sip:a@h\"", ContactError::UnexpectedCharacter),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).map(|_| ()), Err(*want), "{input:?}");
        }
    }

    #[test]
    fn huge_and_random_input_never_panics() {
        let huge = format!("<sip:a@h>;x=\"{}\"", "<".repeat(60_000));
        let list = parse(&huge).expect("long but well-formed");
        assert_eq!(addr(&list[0]).params[0].value.map(str::len), Some(60_002));
        let many = "<sip:a@h>".to_string() + &";p".repeat(20_000);
        assert_eq!(parse(&many).map(|l| addr(&l[0]).params.len()), Ok(20_000));
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = "<>\";,=\\ \tsip:a@h*é\u{1}x";
        let chars: Vec<char> = alphabet.chars().collect();
        for _ in 0..20_000 {
            let len = rng.usize(..40);
            let s: String = (0..len).map(|_| chars[rng.usize(..chars.len())]).collect();
            if let Ok(list) = parse(&s) {
                // Whatever is accepted renders back to something that parses
                // to the same thing.
                for e in &list {
                    if let ContactEntry::Addr(a) = e {
                        let again = format!("<{}>{}", a.uri, rendered(a));
                        let back = parse(&again).expect("rendered form parses");
                        assert_eq!(addr(&back[0]).params, a.params, "{s:?}");
                    }
                }
            }
        }
    }
}
