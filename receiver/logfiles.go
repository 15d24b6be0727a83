package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/logfile"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// LogFilesConfig configures the system log files (LogFiles; documented for Neo tenants).
type LogFilesConfig struct {
	Enabled      bool          `mapstructure:"enabled"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// Types are the LogFileType values to read: http (access log) and trace.
	Types []string `mapstructure:"types"`
	// BatchSize is the number of records handed on (and committed) at a time.
	BatchSize int `mapstructure:"batch_size"`
	// MaxFileSize caps one download (compressed bytes).
	MaxFileSize int64 `mapstructure:"max_file_size"`
	// Multiline says what starts a trace entry; lines in between join it by their stack-trace shape.
	Multiline MultilineConfig `mapstructure:"multiline"`
}

// MultilineConfig replaces the built-in entry-start rule (a leading timestamp in a format SAP writes).
type MultilineConfig struct {
	// LineStartPattern is a regular expression matching the first line of a trace entry (anchor it
	// with ^), like the filelog receiver's multiline.line_start_pattern.
	LineStartPattern string `mapstructure:"line_start_pattern"`
}

func defaultLogFilesConfig() LogFilesConfig {
	return LogFilesConfig{Enabled: true, PollInterval: 5 * time.Minute, Types: []string{logfile.KindHTTP, logfile.KindTrace}, BatchSize: 1000, MaxFileSize: 1 << 30}
}

// Validate checks the section; the collector prefixes the errors with "log_files".
func (c *LogFilesConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 1s, got %s", c.PollInterval))
	}
	if len(c.Types) == 0 {
		errs = append(errs, errors.New("types: name http, trace or both"))
	}
	for _, t := range c.Types {
		if t != logfile.KindHTTP && t != logfile.KindTrace {
			errs = append(errs, fmt.Errorf("types: unknown type %q; use http or trace", t))
		}
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, fmt.Errorf("batch_size: must be between 1 and 100000, got %d", c.BatchSize))
	}
	if c.MaxFileSize < 1<<20 {
		errs = append(errs, fmt.Errorf("max_file_size: must be at least 1 MiB, got %d", c.MaxFileSize))
	}
	if _, err := logfile.CompileLineStart(c.Multiline.LineStartPattern); err != nil {
		errs = append(errs, fmt.Errorf("multiline.line_start_pattern: %w", err))
	}
	return sectionErrors(errs)
}

type logFilesClient interface {
	LogFiles(ctx context.Context, types []string) ([]cpi.LogFile, error)
	LogFileContent(ctx context.Context, f cpi.LogFile, maxSize int64, read func(io.Reader) error) error
}

// fileProgress is what was read of one file: the byte offset and line count after the last delivered
// entry, and the listing the file had when it was last read to its end.
type fileProgress struct {
	Offset       int64     `json:"offset"`
	Lines        int       `json:"lines"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
	// Final: the file no longer grew when last read (a newer one of its type existed).
	Final bool `json:"final"`
}

type logFilesState struct {
	Files map[string]fileProgress `json:"files"`
}

const logFilesCheckpointKey = "log_files"

// logFileSource emits each new line of the tenant's log files once. It keeps, per file, the offset
// after the last delivered entry; a grown file is downloaded again and read from that offset (the API
// has no range requests), a file shorter than the offset was replaced and is read from the start, and a
// file that is no longer listed is forgotten. The newest file of a type may still grow: its half-written
// last line and its last trace entry (whose stack trace may continue) wait for the next poll.
type logFileSource struct {
	cfg    LogFilesConfig
	client logFilesClient
	mapper *mapping.Mapper
	out    *output
	store  *checkpoint.Store
	logger *zap.Logger
	now    func() time.Time
	parse  logfile.Options
	state  logFilesState
}

func logFileSources(e *sourceEnv) ([]source, error) {
	c := e.cfg.LogFiles
	if !c.Enabled {
		return nil, nil
	}
	lineStart, err := logfile.CompileLineStart(c.Multiline.LineStartPattern)
	if err != nil {
		return nil, err
	}
	return []source{&logFileSource{cfg: c, client: e.client, mapper: e.mapper, out: e.out, store: e.store, logger: e.logger("log_files"), now: e.now,
		parse: logfile.Options{LineStart: lineStart}}}, nil
}

func (s *logFileSource) name() string { return "log_files" }

func (s *logFileSource) interval() time.Duration { return s.cfg.PollInterval }

func (s *logFileSource) load(ctx context.Context) error {
	st := logFilesState{Files: map[string]fileProgress{}}
	if _, err := s.store.Load(ctx, logFilesCheckpointKey, &st); err != nil {
		return err
	}
	if st.Files == nil {
		st.Files = map[string]fileProgress{}
	}
	s.state = st
	return nil
}

func fileKey(f cpi.LogFile) string { return f.Application + "/" + f.Name }

// fileDate finds where the date begins in a log file's name (http_access_<node>_<date>.log).
var fileDate = regexp.MustCompile(`\d{4}[-_.]?\d{2}[-_.]?\d{2}`)

// fileSeries is the file's writer: one node's log of one type. Each node writes its own current file,
// so only the newest file of a series is still growing; a name without a date is a series of its type.
func fileSeries(f cpi.LogFile) string {
	series := f.Application + "/" + f.LogFileType
	if loc := fileDate.FindStringIndex(f.Name); loc != nil {
		series += "/" + f.Name[:loc[0]]
	}
	return series
}

func (s *logFileSource) poll(ctx context.Context) error {
	files, err := s.client.LogFiles(ctx, s.cfg.Types)
	if err != nil {
		return err
	}
	// The newest file of each series is the one still being written.
	sort.Slice(files, func(i, j int) bool { return files[i].LastModified.Before(files[j].LastModified.Time) })
	newest := map[string]string{}
	listed := map[string]bool{}
	for _, f := range files {
		newest[fileSeries(f)] = f.Name
		listed[fileKey(f)] = true
	}
	forgot := false
	for k := range s.state.Files {
		if !listed[k] {
			delete(s.state.Files, k) // rotated out of the tenant's retention
			forgot = true
		}
	}
	if forgot {
		if err := s.save(ctx); err != nil {
			return err
		}
	}
	for _, f := range files {
		final := newest[fileSeries(f)] != f.Name
		p, seen := s.state.Files[fileKey(f)]
		if seen && p.Size == int64(f.Size) && p.LastModified.Equal(f.LastModified.Time) && (p.Final || !final) {
			continue // unchanged since it was read to its end
		}
		if err := s.readFile(ctx, f, final); err != nil {
			return err
		}
	}
	return nil
}

func (s *logFileSource) readFile(ctx context.Context, f cpi.LogFile, final bool) error {
	key := fileKey(f)
	info := mapping.LogFile{Name: f.Name, Application: f.Application, Type: f.LogFileType}
	err := s.client.LogFileContent(ctx, f, s.cfg.MaxFileSize, func(r io.Reader) error {
		// Decided from the committed progress on every call: a retried download resumes correctly.
		p := s.state.Files[key]
		skipped, err := io.CopyN(io.Discard, r, p.Offset)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if skipped < p.Offset {
			s.logger.Info("Log file is shorter than what was read of it: it was replaced, reading it from the start", zap.String("file", f.Name))
			return httpapi.Stop(errReplaced)
		}
		rd := logfile.NewReader(f.LogFileType, r, p.Offset, p.Lines, s.parse)
		var batch []logfile.Entry
		var off int64
		var lines int
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := s.out.consumeLogs(ctx, formatLogFile, s.mapper.LogFileEntries(info, batch, s.now()), "log file lines"); err != nil {
				return httpapi.Stop(err)
			}
			batch = batch[:0]
			p := s.state.Files[key]
			p.Offset, p.Lines = off, lines
			s.state.Files[key] = p
			if err := s.save(ctx); err != nil {
				return httpapi.Stop(err)
			}
			return nil
		}
		for {
			e, o, n, err := rd.Next(final)
			if errors.Is(err, logfile.ErrNoEntry) {
				break
			}
			if err != nil {
				return err
			}
			batch, off, lines = append(batch, e), o, n
			if len(batch) >= s.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
	if errors.Is(err, errReplaced) {
		s.state.Files[key] = fileProgress{}
		return s.readFile(ctx, f, final)
	}
	if err != nil {
		return err
	}
	p := s.state.Files[key]
	p.Size, p.LastModified, p.Final = int64(f.Size), f.LastModified.Time, final
	s.state.Files[key] = p
	return s.save(ctx)
}

var errReplaced = errors.New("log file replaced")

func (s *logFileSource) save(ctx context.Context) error {
	return s.store.Save(ctx, logFilesCheckpointKey, s.state)
}
