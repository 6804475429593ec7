package server

func (s *Server) hasTokens() bool { return false }
