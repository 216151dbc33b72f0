"""WSGI entry point: gunicorn --config gunicorn.conf.py app:app"""

from items_service.factory import create_app

app = create_app()
