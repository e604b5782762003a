fn main() {
    println!("mlp {}", env!("CARGO_PKG_VERSION"));
}
