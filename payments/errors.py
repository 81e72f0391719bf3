from credit.errors import NotAllowed, NotFound


class NotAnInstitution(NotAllowed):
    code = "not_an_institution"
    default_message = "Only members of a payment institution may do this."


class APIKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_message = "No such API key."
