"""TF Serving's REST routing and handlers (status, metadata, predict) over a `ModelRepository`.

Independent of the HTTP transport (`serving/rest/server.py`): `RestApi.handle(method, path, body)` returns the
status code and JSON body TF Serving would answer; the JSON codec is `serving/rest/rest_codec.py`.
"""

import json
import re
import urllib.parse

from serving.rest import rest_codec, rest_response
from serving.rest.model_repository import ModelRepository, ServableVersion
from serving.rest.rest_codec import ServingError

DEFAULT_SIGNATURE_NAME = "serving_default"

# TF Serving's routing regexes (model_servers/http_rest_api_util.cc), matched against the whole path.
_POST_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
_GET_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", re.IGNORECASE | re.ASCII
)


class RestApi:
    """TF Serving's REST handler logic over a `ModelRepository`, independent of the HTTP transport."""

    def __init__(self, repository: ModelRepository):
        self.repository = repository

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """Answers one request under `/v1/`.

        Returns:
            The HTTP status and the JSON body.
        """
        try:
            text = self._route(method, path, body)
            return 200, text.encode("utf-8")
        except ServingError as error:
            return error.http_status, json.dumps({"error": error.message}, ensure_ascii=False).encode("utf-8")

    def _route(self, method: str, path: str, body: bytes) -> str:
        if method == "POST":
            match = _POST_PATH.fullmatch(path)
            if match and match.group(4) in ("predict", "classify", "regress"):
                name, version, label = self._model_spec(*match.group(1, 2, 3))
                return self._predict(name, version, label, body, match.group(4))
        elif method == "GET":
            match = _GET_PATH.fullmatch(path)
            if match:
                if match.group(1) is None:
                    raise ServingError("Missing model name in request.")
                name, version, label = self._model_spec(*match.group(1, 2, 3))
                if match.group(4) == "metadata":
                    return self._metadata(name, version, label)
                return self._status(name, version, label)
        raise ServingError(f"Malformed request: {method} {path}")

    @staticmethod
    def _model_spec(name: str, version: str | None, label: str | None) -> tuple[str, int | None, str | None]:
        name = urllib.parse.unquote(name)
        label = urllib.parse.unquote(label) if label is not None else None
        if version is not None:
            number = int(version)
            if number > 2**63 - 1:
                raise ServingError(f"Failed to convert version: {version} to numeric.")
            return name, number, label
        return name, None, label

    def _servable(self, name: str, version: int | None, label: str | None) -> ServableVersion:
        """The servable for a predict/metadata request (BasicManager's NOT_FOUND messages)."""
        if label is not None:
            raise ServingError(f"Unrecognized servable version label: {label}")
        servable = self.repository.get(name)
        if servable is None or (version is not None and version != servable.version):
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise ServingError(f"Servable not found for request: {request}", "NOT_FOUND")
        return servable

    def _status(self, name: str, version: int | None, label: str | None) -> str:
        if label is not None:
            raise ServingError(f"Unrecognized servable version label: {label}")
        servable = self.repository.get(name)
        if servable is None:
            raise ServingError(f"Could not find any versions of model {name}", "NOT_FOUND")
        if version is not None and version != servable.version:
            raise ServingError(f"Could not find version {version} of model {name}", "NOT_FOUND")
        status = {
            "version": str(servable.version),
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
        return json.dumps({"model_version_status": [status]}, indent=1)

    def _metadata(self, name: str, version: int | None, label: str | None) -> str:
        servable = self._servable(name, version, label)
        response = {
            "model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": {"signature_def": servable.metadata_json}},
        }
        return json.dumps(response, indent=1)

    def _predict(self, name: str, version: int | None, label: str | None, body: bytes, method: str) -> str:
        document = rest_codec.parse_predict_body(body)
        signature_name = document.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise ServingError(
                f"JSON Value: {rest_codec.json_debug_string(document)} not formatted correctly. "
                "'signature_name' key must be a string value."
            )
        servable = self._servable(name, version, label)
        key = signature_name or DEFAULT_SIGNATURE_NAME
        if key not in servable.signatures or key not in servable.input_dtypes:
            raise ServingError(f'Serving signature name: "{key}" not found in signature def')
        if method != "predict":
            expected = f"tensorflow/serving/{method}"
            actual = servable.metadata_json.get(key, {}).get("method_name", "")
            if actual != expected:
                raise ServingError(f"Expected {method} signature method_name to be {expected}. Was: {actual}")
            raise ServingError(f"The development server does not implement :{method}; use :predict.", "UNIMPLEMENTED")
        input_dtypes = servable.input_dtypes[key]
        if not input_dtypes:
            raise ServingError(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
        may_hold_booleans = b"true" in body or b"false" in body
        inputs, row_format = rest_codec.decode_predict_inputs(document, input_dtypes, may_hold_booleans)
        outputs = servable.run(key, inputs)
        return rest_response.encode_predict_response(outputs, row_format)
