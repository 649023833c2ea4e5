using System.Globalization;
using Iwae.Core;
using System.Text;

namespace Iwae.Experiments.Sweeps;

/// <summary>What <see cref="SlurmScript.Build"/> needs to write a sweep's sbatch script.</summary>
public sealed record SlurmOptions
{
    /// <summary>The sweep folder, absolute (the script runs on other machines, from another working directory).</summary>
    public required string SweepFolder { get; init; }

    /// <summary>N, the number of runs in sweep.json: the array is 0..N-1, one task per run.</summary>
    public required int Runs { get; init; }

    /// <summary>CPUs per task; <c>iwae sweep run</c> reads them from SLURM_CPUS_PER_TASK as its thread count.</summary>
    public int CpusPerTask { get; init; } = 2;

    /// <summary>Wall-clock limit of one allocation. A longer run checkpoints near it and continues in the next one.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromHours(4);

    /// <summary>The partition (queue), or null for the cluster's default.</summary>
    public string? Partition { get; init; }

    /// <summary>The account charged, or null for the user's default.</summary>
    public string? Account { get; init; }

    /// <summary>At most this many tasks at once (the %P of --array=0-(N-1)%P), or null for no limit.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>The job name squeue shows.</summary>
    public string JobName { get; init; } = "iwae-sweep";

    /// <summary>
    /// How to start iwae on the compute nodes, as shell words written into the script as they are: "iwae",
    /// "dotnet /opt/iwae/iwae.dll". Quote a word with spaces in it yourself (<see cref="SlurmScript.Quote"/>).
    /// </summary>
    public string Command { get; init; } = "iwae";

    /// <summary>
    /// How long before the time limit Slurm sends USR1 to the batch shell (whole seconds, at most 65535): the time the
    /// run has to stop and write its checkpoint. 120 s covers the slowest stop: the signal may come in a stage-end or
    /// final evaluation, which stops within a second (the final one after the checkpoint is already written); even a
    /// stage evaluation that ran to its end (k = 1000 on 500 images, 0.5 M samples of the paper's largest model: some
    /// 15 s on 2 cores) leaves over 100 s for the checkpoint (6 MB) and the requeue. Slurm may send it up to 60 s
    /// earlier, never later. See docs/cluster.md.
    /// </summary>
    public TimeSpan SignalLeadTime { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>More sbatch options, one per line, with or without the leading "#SBATCH" ("--mem=4G", "--qos=long").</summary>
    public IReadOnlyList<string> ExtraSbatch { get; init; } = [];
}

/// <summary>
/// Writes the sbatch script of a sweep: a Slurm job array whose task i runs <c>iwae sweep run SWEEP</c> (run i of
/// sweep.json), stops it at a checkpoint before the time limit and requeues itself to continue, bit-identically, in a
/// later allocation.
/// </summary>
public static class SlurmScript
{
    /// <summary>The exit code of <c>iwae sweep run</c> after SIGTERM: the checkpoint is written; running it again resumes.</summary>
    public const int StoppedExitCode = 130;

    /// <summary>The sbatch script for <paramref name="o"/>; throws <see cref="ArgumentException"/> on an option Slurm would reject.</summary>
    public static string Build(SlurmOptions o)
    {
        Validate(o);
        string sweep = o.SweepFolder.TrimEnd('/');
        if (sweep.Length == 0) sweep = "/";
        // Slurm expands %A, %a, ... in --output and --error; %% is a literal % from the folder's name.
        string logs = (sweep == "/" ? "" : sweep).Replace("%", "%%") + "/logs/";
        string array = $"0-{o.Runs - 1}" + (o.MaxConcurrent is int p ? $"%{p}" : "");
        int lead = LeadSeconds(o.SignalLeadTime);

        var s = new StringBuilder();
        void L(string line = "") => s.Append(line).Append('\n');

        L("#!/bin/bash");
        L($"# Slurm job array for the iwae sweep in {sweep}: task i runs run i of its sweep.json ({o.Runs} runs).");
        L("# Submit it with sbatch; `iwae sweep status` shows the runs' progress and `iwae sweep collect` gathers the results.");
        L("#");
        L("# Exit codes of `iwae sweep run`, which this script relies on:");
        L("#   0    the run finished (now, or before: a finished run is skipped)");
        L($"#   {StoppedExitCode}  stopped by SIGTERM after writing its checkpoint; running the task again resumes it bit-identically");
        L("#   else an error, described in the task's log under logs/");
        L("# This script exits with the run's code, or 0 when it has requeued the task to continue later.");
        L("#");
        L("# sbatch reads the #SBATCH lines up to the first command. Their values are double-quoted for sbatch's own parser.");
        L("# --output/--error: one log pair per task (%A = array job id, %a = task index); logs/ must exist before the");
        L("#   job starts (Slurm does not create it). --open-mode=append: a requeued task appends to its logs.");
        L("# --requeue: the task may go back to the queue, by this script or by preemption.");
        L($"# --signal=B:USR1@{lead}: USR1 to this shell only (B:), {lead} s before the time limit (Slurm may send it up to a");
        L("#   minute early), to stop the run at a checkpoint.");
        L($"#SBATCH --job-name={SbatchQuote(o.JobName)}");
        L($"#SBATCH --array={array}");
        L($"#SBATCH --cpus-per-task={o.CpusPerTask.ToString(CultureInfo.InvariantCulture)}");
        L($"#SBATCH --time={FormatTime(o.TimeLimit)}");
        L($"#SBATCH --output={SbatchQuote(logs + "%A_%a.out")}");
        L($"#SBATCH --error={SbatchQuote(logs + "%A_%a.err")}");
        L("#SBATCH --open-mode=append");
        L("#SBATCH --requeue");
        L($"#SBATCH --signal=B:USR1@{lead}");
        if (o.Partition is not null) L($"#SBATCH --partition={SbatchQuote(o.Partition)}");
        if (o.Account is not null) L($"#SBATCH --account={SbatchQuote(o.Account)}");
        foreach (string extra in o.ExtraSbatch)
        {
            string line = extra.Trim();
            L(line.StartsWith("#SBATCH", StringComparison.Ordinal) ? line : "#SBATCH " + line);
        }
        L();
        L("set -u");
        L();
        L("# Single-quoted, so spaces and quotes in the path stay one word.");
        L($"sweep={Quote(sweep)}");
        L("# How to start iwae (the --command of `iwae sweep slurm`), as shell words.");
        L($"iwae=({o.Command.Trim()})");
        L();
        L("echo \"iwae sweep: task ${SLURM_ARRAY_TASK_ID:-?} of job ${SLURM_ARRAY_JOB_ID:-?} on ${HOSTNAME:-?}, restart ${SLURM_RESTART_COUNT:-0}\" >&2");
        L();
        L("child=        # the pid of `iwae sweep run`");
        L("stop=         # why the run was asked to stop: USR1 (time limit near) or TERM (scancel, preemption, requeue)");
        L("forwarded=    # SIGTERM already sent to the run");
        L("interrupted=  # a trapped signal cut the last wait short");
        L();
        L("# Both signals ask the run to stop; it writes its checkpoint and exits 130. This script sends it SIGTERM once,");
        L("# however many signals arrive (scancel signals the run directly as well). TERM after USR1 wins, so a cancelled");
        L("# task is not requeued.");
        L("stop_run() {");
        L("  interrupted=1");
        L("  if [ -z \"$stop\" ] || [ \"$1\" = TERM ]; then stop=$1; fi");
        L("  if [ -n \"$child\" ] && [ -z \"$forwarded\" ]; then");
        L("    forwarded=1");
        L("    echo \"iwae sweep: SIG$1: stopping the run at a checkpoint\" >&2");
        L("    kill -TERM \"$child\" 2>/dev/null");
        L("  fi");
        L("}");
        L("trap 'stop_run USR1' USR1");
        L("trap 'stop_run TERM' TERM");
        L();
        L("# In the background, because bash runs a trap only between commands: while it waits for a foreground command, a");
        L("# signal would wait too. `wait` returns as soon as a trapped signal arrives.");
        L("\"${iwae[@]}\" sweep run \"$sweep\" &");
        L("child=$!");
        L("# A signal that came before the run started.");
        L("if [ -n \"$stop\" ] && [ -z \"$forwarded\" ]; then forwarded=1; kill -TERM \"$child\" 2>/dev/null; fi");
        L();
        L("# Wait until the run has really exited, so its checkpoint is on disk before this script requeues or exits. A wait");
        L("# cut short by a trapped signal returns 128 + its number; 130 (SIGINT, not trapped) can only be the run's own code.");
        L("while :; do");
        L("  interrupted=");
        L("  wait \"$child\"");
        L("  code=$?");
        L($"  [ -n \"$interrupted\" ] && [ \"$code\" -gt 128 ] && [ \"$code\" -ne {StoppedExitCode} ] || break");
        L("done");
        L();
        L($"if [ \"$stop\" = USR1 ] && [ \"$code\" -eq {StoppedExitCode} ]; then");
        L("  # Time limit near and the run is at its checkpoint: back to the queue, to resume in a later allocation.");
        L("  # The requeue ends this allocation with SIGTERM; nothing is left to stop, so this shell ignores it.");
        L("  trap '' TERM");
        L("  if scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"; then");
        L("    exit 0");
        L("  fi");
        L("  echo \"iwae sweep: scontrol requeue failed; submit the task again to resume the run\" >&2");
        L("fi");
        L("exit \"$code\"");
        return s.ToString();
    }

    /// <summary>
    /// The command that starts the iwae running now, as shell words for <see cref="SlurmOptions.Command"/>: a node
    /// that shares this machine's filesystem then runs the same build, whether or not `iwae` is on its PATH (a bare
    /// `iwae` there would be "command not found" in every task). <paramref name="processPath"/> is
    /// <see cref="Environment.ProcessPath"/>; <paramref name="cliAssembly"/> the path of iwae.dll (empty in a
    /// single-file build). The apphost `iwae` is started by its full path; `dotnet iwae.dll` by the full paths of
    /// both; anything else by the process's own path.
    /// </summary>
    public static string CommandFor(string? processPath, string? cliAssembly)
    {
        if (string.IsNullOrEmpty(processPath)) return "iwae";
        string host = Path.GetFileNameWithoutExtension(processPath);
        if (host == "iwae" || string.IsNullOrEmpty(cliAssembly)) return Quote(processPath);
        // Run through a dotnet host (`dotnet iwae.dll`, or a test host that loaded it): the runtime, then the dll.
        return $"{(host == "dotnet" ? Quote(processPath) : "dotnet")} {Quote(cliAssembly)}";
    }

    /// <summary>
    /// <paramref name="word"/> as one bash word: single-quoted, each ' written as '\'' (close, escaped quote, reopen).
    /// </summary>
    public static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>
    /// <paramref name="time"/> as sbatch's --time: HH:MM:SS under a day, D-HH:MM:SS from a day on; a fraction of a
    /// second rounds up.
    /// </summary>
    public static string FormatTime(TimeSpan time)
    {
        if (time <= TimeSpan.Zero) throw new ArgumentException($"The time limit must be positive, not {time}.");
        long total = CeilingSeconds(time);
        long days = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, sec = total % 60;
        string hms = string.Create(CultureInfo.InvariantCulture, $"{h:00}:{m:00}:{sec:00}");
        return days == 0 ? hms : string.Create(CultureInfo.InvariantCulture, $"{days}-{hms}");
    }

    // sbatch's own #SBATCH parser (not bash) reads these values: double quotes group words, a backslash escapes the
    // next character, and an unquoted # starts a comment.
    static string SbatchQuote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    static long CeilingSeconds(TimeSpan t) => (t.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;

    static int LeadSeconds(TimeSpan lead) => (int)CeilingSeconds(lead);

    static void Validate(SlurmOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.SweepFolder) || !o.SweepFolder.StartsWith('/'))
            throw new ArgumentException($"The sweep folder must be an absolute path (the job runs elsewhere), not '{o.SweepFolder}'.");
        // A backslash in --output switches off Slurm's %A/%a expansion: every task would write to one file named %A_%a.out.
        if (o.SweepFolder.Contains('\\'))
            throw new ArgumentException($"The sweep folder's path has a backslash, which Slurm's log file names cannot hold: '{o.SweepFolder}'.");
        if (o.Runs < 1) throw new ArgumentException($"A sweep needs at least one run, not {o.Runs}.");
        Limits.Threads.Check(o.CpusPerTask, "cpus_per_task");
        if (o.MaxConcurrent is < 1) throw new ArgumentException($"The most tasks at once must be at least 1, not {o.MaxConcurrent}.");
        if (string.IsNullOrWhiteSpace(o.Command)) throw new ArgumentException("The command that starts iwae is empty.");
        if (string.IsNullOrWhiteSpace(o.JobName)) throw new ArgumentException("The job name is empty.");
        FormatTime(o.TimeLimit);
        if (o.SignalLeadTime <= TimeSpan.Zero || CeilingSeconds(o.SignalLeadTime) > 65535)
            throw new ArgumentException($"The signal lead time must be between 1 and 65535 s, not {o.SignalLeadTime.TotalSeconds} s.");
        // A warning at or before the start would stop and requeue every task as soon as it starts, for ever.
        if (CeilingSeconds(o.SignalLeadTime) >= CeilingSeconds(o.TimeLimit))
            throw new ArgumentException($"The signal lead time ({o.SignalLeadTime}) must be shorter than the time limit ({o.TimeLimit}).");
        // Each value sits on one line of the script.
        string?[] lines = [o.SweepFolder, o.JobName, o.Command, o.Partition, o.Account, .. o.ExtraSbatch];
        foreach (string? v in lines)
            if (v is not null && v.IndexOfAny(['\n', '\r', '\0']) >= 0)
                throw new ArgumentException($"An option holds a line break or NUL, which a script line cannot: '{v.ReplaceLineEndings("\\n")}'.");
        if (o.Partition is { Length: 0 } || o.Account is { Length: 0 })
            throw new ArgumentException("The partition and the account are null or not empty.");
    }
}
