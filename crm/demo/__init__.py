"""Demo data: programmes, users and startups drawn from the Düsseldorf desk's real context."""
