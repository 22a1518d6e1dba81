"""The environment sandbox: the embedded moto server and the rehearsal estate seeded into it."""
