"""`fraudctl ui`: a Streamlit app over the project's outputs and registry."""
