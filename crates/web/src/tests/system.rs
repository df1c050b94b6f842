//! Router tests of the system pages (harness: the parent module).
