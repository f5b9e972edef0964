"""Privacy by design (RGPD): what people are told and agree to, what is kept and for how long,
and their rights."""
