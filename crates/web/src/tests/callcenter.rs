//! Router tests of the callcenter pages (harness: the parent module).
