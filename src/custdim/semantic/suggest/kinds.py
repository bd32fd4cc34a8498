"""The semantic types mapping suggestions can name, as short constants."""


# --------------------------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------------------------

FIRST = "Person.FirstName"
LAST = "Person.LastName"
MIDDLE = "Person.MiddleName"
FULL = "Person.FullName"
BIRTH = "Person.BirthDate"
GENDER = "Person.Gender"
EMAIL = "Identity.Service.Email"
PHONE = "Identity.Service.Phone"
GOV_ID = "Identity.GovernmentID"
ADDRESS = "Location.Address"
STREET = "Location.Address.Street"
CITY = "Location.City"
COUNTY = "Location.County"
STATE = "Location.State"
POSTAL = "Location.PostalCode"
COUNTRY = "Location.Country"
LAT = "Location.Latitude"
LON = "Location.Longitude"
ORG = "Organization.Name"
DATE = "Calendar.Date"
MODIFIED = "Measurement.Date.Modify"
CARD = "Loyalty.CardNumber"
LOYALTY_ID = "Loyalty.LoyaltyId"

_ANY_ADDRESS = "?address"
"""Pseudo type of a bare ``address`` name: a full one-line address or just the street line, the values decide."""

_DATE_TYPES = frozenset({BIRTH, DATE, MODIFIED})
