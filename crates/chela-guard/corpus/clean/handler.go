package api

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Config holds the server settings. Secrets come from the environment, never from this file.
type Config struct {
	Addr          string
	DSN           string
	TokenTTL      time.Duration
	PasswordEnv   string
	SecretKeyFile string
}

func LoadConfig() Config {
	return Config{
		Addr:          ":8080",
		DSN:           fmt.Sprintf("postgres://api@%s/api?sslmode=require", os.Getenv("DB_HOST")),
		TokenTTL:      15 * time.Minute,
		PasswordEnv:   "API_DB_PASSWORD",
		SecretKeyFile: "/etc/api/secret.key",
	}
}

type Server struct {
	db  *sql.DB
	cfg Config
}

func (s *Server) GetUser(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	id := r.URL.Query().Get("id")
	var name string
	err := s.db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = $1", id).Scan(&name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	token := r.Header.Get("Authorization")
	if token == "" {
		http.Error(w, "missing token", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, `{"id":%q,"name":%q,"trace":"4bf92f3577b34da6a3ce929d0e0e4736"}`, id, name)
}
