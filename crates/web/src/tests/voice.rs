//! Router tests of the voice pages (harness: the parent module).
