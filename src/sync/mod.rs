//! Snapshot synchronisation.
