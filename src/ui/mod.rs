//! macroquad screens.
