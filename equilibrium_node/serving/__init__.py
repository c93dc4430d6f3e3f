"""What every node serves from: the mirror of the region's surge bucket."""
