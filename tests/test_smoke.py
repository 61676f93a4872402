from crm.core.enums import Role


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Log in to Landing Desk" in response.get_data(as_text=True)


def test_admin_sees_users(client_as):
    client, user = client_as(Role.ADMIN)
    response = client.get("/admin/users")
    assert response.status_code == 200
    assert user.email in response.get_data(as_text=True)
