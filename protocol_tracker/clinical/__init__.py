"""Clinical outcomes of a transplanted lot: the recipient (the donor, autologous), the product
as formulated (weight, volume, dose, expiry: dose and endotoxin per kg), baseline and follow-up
visits with their values in both unit systems, CGM imports, therapy events, and the Igls class
and VX-880 endpoint per visit. Pseudonymous: the recipient is the donor's code; patient
identifiers stay behind the identity vault.
"""
