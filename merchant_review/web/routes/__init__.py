"""The app's routes: pages (login, queue, merchants, reviews, reports) and the JSON API."""
