"""Market state: windowed supply and demand per S2 cell and vehicle type, exactly once from JetStream."""
