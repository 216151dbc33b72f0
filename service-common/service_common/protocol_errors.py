"""Problem bodies for the requests gunicorn itself refuses.

A request gunicorn cannot parse (a bad request line, an invalid or oversized
header, a URI too long) never reaches Flask: gunicorn answers it with an HTML
page of its own. DESIGN §2 promises a problem body for every error, so the
writer gunicorn calls for those answers is replaced by one that sends
application/problem+json with the same status.
"""

import json

from gunicorn import util


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status_int, "detail": mesg or reason}
    )
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    # json.dumps escapes everything outside ASCII, so the body is plain ASCII.
    util.write_nonblock(sock, (head + body).encode("ascii"))


def answer_protocol_errors_with_problems() -> None:
    util.write_error = write_problem
