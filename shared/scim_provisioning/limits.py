"""The limits the service publishes and enforces: the one place both read.

The checks (the HTTP edge, ``scim/`` validation, the services) and the documents that publish
the limits (``/ServiceProviderConfig``, the attribute descriptions of ``/Schemas``, the README)
all read these constants, so what is promised cannot drift from what is enforced. Each limit
says why it has its value: most keep one request's work far inside the function's timeout, or
keep a write inside what DynamoDB accepts (400 KB an item, 1,024 bytes a sort key, 100 items a
transaction), so that a request over them is a 4xx naming the limit, before any expensive
work, and never a 5xx (docs/decisions.md, "Published limits").

Kept free of imports: the HTTP edge of every function reads them, including functions that
never load the SCIM modules."""

from __future__ import annotations

# ---------------------------------------------------------------- request as a whole
# API Gateway itself refuses bodies over 10 MB; we refuse far earlier (413). Published in
# ServiceProviderConfig (bulk.maxPayloadSize). 10,000 members with their display fit.
MAX_BODY_BYTES = 1_048_576
# How deeply arrays and objects may nest in a JSON body: a SCIM resource nests three levels (a
# PatchOp four); deeper is an attack on the parser's recursion, refused with a 400.
MAX_JSON_DEPTH = 32
# Python refuses to turn longer digit strings into integers (CVE-2020-10735's guard); JSON
# numbers with more digits than this are a 400 before any conversion.
MAX_NUMBER_DIGITS = 100

# ---------------------------------------------------------------- SCIM resources
# Any string attribute value (RFC 7643 imposes none).
MAX_STRING_LENGTH = 4096
# userName and a group's displayName are DynamoDB sort keys of their uniqueness claims
# (USERNAME#/GROUPNAME# + the case-folded name; a sort key holds at most 1,024 bytes). 256
# characters hold any email address (254) and any name an identity provider sends; the key
# form must also fit (case folding can lengthen a name: "ß" becomes "ss").
MAX_NAME_LENGTH = 256
MAX_NAME_KEY_BYTES = 1000
# Entries of one multi-valued attribute of a user or group, members excepted. Each email is a
# lookup item written in the user's transaction (DynamoDB: at most 100 items), and a change of
# every email deletes the old ones and puts the new ones: twice 40, plus the person, its claim swap,
# externalId lookup and the organization's counters stay under 100.
MAX_MULTI_VALUED_ENTRIES = 40
# The stored document of one user or group, as JSON: a DynamoDB item holds at most 400 KB; a
# generous profile is a few kilobytes.
MAX_RESOURCE_BYTES = 100_000

# ---------------------------------------------------------------- requests on resources
# Operations in one PATCH (Entra sends one per changed attribute; a few dozen at most).
MAX_PATCH_OPERATIONS = 1000
# Member ids named by one request (a POST or PUT of a group, or all the operations of one
# PATCH): each is checked to be a user (100 a BatchGetItem) and written (25 a BatchWriteItem),
# so 10,000 is 100 reads and 400 writes, seconds inside the timeout. The same number as a group
# answer may carry (MAX_MEMBERS_RETURNED): what a GET returns, a PUT may send back.
MAX_MEMBERS_PER_REQUEST = 10_000
# A filter's length in characters and its nesting of parentheses and brackets.
MAX_FILTER_LENGTH = 4096
MAX_FILTER_DEPTH = 32
# Resources per list page (count). A user's groups cost a query each, a group's members a
# query and a batch read: a page of 100 with them stays around a hundred requests run side by
# side. A larger count is a 400 naming this maximum rather than a shorter page, because Okta's
# import pages by startIndex += count and would skip what a short page left out.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
# A filter that is not a key lookup reads the organization's resources; above this many it is a
# 400 telling the client to filter by a key (userName, externalId, emails.value, id,
# groups.value; displayName, externalId, id, members.value for groups).
MAX_FILTER_SCAN = 20_000
