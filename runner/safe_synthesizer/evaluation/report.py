def render_report(result, title: str) -> str:
    return ""
