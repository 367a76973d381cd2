"""Meetups: sessions in third places, check-in with a rotating QR code, the organiser's live view,
and check-ins as presence facts of a meetups source (pushed back like any presence).

`settings` is what a meetups source declares, `tokens` the signed values, `desk` the check-in
rules, `facts` a check-in as a presence fact, `sessions` where sessions come from, `mail` the
confirmation emails, `sheet` the printable sign-in sheet's CSV.
"""
