//! IVR menus (FEATURES T8, manual 3.2.4) without I/O: the menu model
//! ([`menu`]), how entries bind digits ([`binding`]), validation of a menu
//! tree ([`validate`]) and the walk of one caller through the menus
//! ([`runner`]). The engine's IVR application drives a runner on a call.

pub mod binding;
pub mod menu;
pub mod runner;
pub mod validate;

#[cfg(test)]
mod runner_tests;

pub use menu::{IvrAction, IvrEntry, IvrMenu};
pub use runner::{ExitReason, IvrInput, IvrRun, IvrStep};
pub use validate::{validate, validate_structure, IvrContext, IvrError, MAX_DEPTH};
