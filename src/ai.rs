//! Scripted opponents: turn a view of the world into an input frame.
