extension Duration {
    /// The duration in seconds, as a fraction: what a timing is measured and stored in.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
