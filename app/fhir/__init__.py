"""FHIR R4 interfaces of the SAS (ANS implementation guide): translation between the domain
and FHIR resources. No business rule lives here."""
