"""/docs: Swagger UI served by the API itself, so the page works offline."""
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/docs-assets"


def serve_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) with its JavaScript, CSS and icon served from here (FastAPI's "self-hosting JavaScript and
    CSS for docs"): by default they come from a CDN, and offline the page is blank. The files are fastapi-offline's
    copy of Swagger UI 5 (swagger-ui-bundle has Swagger UI 4, which cannot read the OpenAPI 3.1 document FastAPI
    writes). There is no /redoc: ReDoc fetches its logo from its maker's CDN whatever it is given."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + app.openapi_url, title=app.title + " - docs",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png")
