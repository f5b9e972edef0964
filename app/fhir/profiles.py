"""Profiles, identifier systems and code systems of the SAS guide
(ansforge/IG-fhir-service-acces-aux-soins, input/fsh), in one place."""

FHIR_JSON = "application/fhir+json"

SAS = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"
BUNDLE = SAS + "sas-cpts-bundle-aggregator"
SLOT = SAS + "sas-cpts-slot-aggregator"
HEALTHCARE_SERVICE = SAS + "sas-cpts-healthcareservice-aggregator"
ORGANIZATION = SAS + "sas-cpts-organization-aggregator"
SCHEDULE = "http://sas.fr/fhir/StructureDefinition/FrScheduleAgregateur"
PRACTITIONER = "http://sas.fr/fhir/StructureDefinition/FrPractitionerAgregateur"
PRACTITIONER_ROLE = "http://sas.fr/fhir/StructureDefinition/FrPractitionerRoleExerciceAgregateur"
LOCATION = "http://sas.fr/fhir/StructureDefinition/FrLocationAgregateur"
APPOINTMENT = "http://sas.fr/fhir/StructureDefinition/FrAppointmentSAS"
# No ^url in its FSH (unlike FrAppointmentSAS…): the guide's canonical base + its Id.
REGULATOR = SAS + "FrPractitionerRegul"

# Identifier systems ("autorités d'affectation").
NATIONAL_PS = "urn:oid:1.2.250.1.71.4.2.1"  # IDNPS: 8 + RPPS, 0 + ADELI
NATIONAL_STRUCTURE = "urn:oid:1.2.250.1.71.4.2.2"  # IDNST: 1 + FINESS
SAS_PLATFORM = "urn:oid:1.2.250.1.213.3.6"  # the SAS's technical identifiers, and meta.source

# Code systems.
IDENTIFIER_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"  # as FrPractitionerAgregateur writes it
IDENTIFIER_TYPE_FR_CORE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"  # as the CPTS Organization does
SLOT_TYPE = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ESTABLISHMENT_CATEGORY = (
    "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
)
CPTS_CATEGORY = "604"
SPECIALTY = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
APPOINTMENT_REASON = "http://terminology.hl7.org/CodeSystem/v2-0276"
SERVICE_TYPE_R5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
APPOINTMENT_OPERATOR = "http://interopsante.org/fhir/StructureDefinition/FrAppointmentOperator"

MAX_PRACTITIONERS = 25
