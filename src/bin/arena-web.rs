//! `arena-web`: the game as the browser runs it (`scripts/web.sh` builds it
//! for wasm32-unknown-unknown; macroquad's JS loader calls this `main`).
//! Everything lives in the library ([`arena::web`]).

fn main() {
    arena::web::run();
}
