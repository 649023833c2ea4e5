using System.Globalization;
using Iwae.Core;
using System.Text.Encodings.Web;
using System.Text.Json.Serialization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text;

namespace Iwae.Experiments.Sweeps;

/// <summary>What <see cref="KubernetesManifest.Build"/> needs to write a sweep's Kubernetes Job.</summary>
public sealed record KubernetesOptions
{
    /// <summary>The Job's name: a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters).</summary>
    public required string Name { get; init; }

    /// <summary>N, the number of runs in sweep.json: the Job's completions, indexes 0..N-1.</summary>
    public required int Runs { get; init; }

    /// <summary>At most this many pods at once; null for min(<see cref="Runs"/>, 8).</summary>
    public int? Parallelism { get; init; }

    /// <summary>The container image, which holds the iwae tool (e.g. "registry.example.org/me/iwae:0.1.0").</summary>
    public required string Image { get; init; }

    /// <summary>How to start iwae in the image, run directly with no shell (so SIGTERM reaches it).</summary>
    public IReadOnlyList<string> Command { get; init; } = ["iwae"];

    /// <summary>Where the sweep folder appears in the container; the path <c>iwae sweep run</c> is given.</summary>
    public string SweepMountPath { get; init; } = "/sweep";

    /// <summary>The persistent volume claim holding the sweep folder (at its root, or at <see cref="SubPath"/>).</summary>
    public required string ClaimName { get; init; }

    /// <summary>The sweep folder's path inside the claim, or null when the sweep folder is the claim's root.</summary>
    public string? SubPath { get; init; }

    /// <summary>CPUs per pod (requested and limited), and the run's <c>--threads</c>.</summary>
    public int CpusPerTask { get; init; } = 2;

    /// <summary>Memory per pod (requested and limited), as a Kubernetes quantity.</summary>
    public string Memory { get; init; } = "2Gi";

    /// <summary>Seconds between SIGTERM and SIGKILL: the time a stopped run has to write its checkpoint.</summary>
    public int TerminationGracePeriodSeconds { get; init; } = 60;

    /// <summary>Failed pods tolerated per index (run) before it counts as failed; preemptions and evictions do not count.</summary>
    public int BackoffLimitPerIndex { get; init; } = 3;

    /// <summary>Extra environment variables for the container, or null.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }
}

/// <summary>
/// Writes the Kubernetes manifest of a sweep: an Indexed batch/v1 Job whose pod i runs <c>iwae sweep run</c> on the
/// sweep folder mounted from a persistent volume claim. A preempted or evicted pod gets SIGTERM, writes its checkpoint,
/// and its index is retried in a new pod, which resumes the run bit-identically.
/// </summary>
public static partial class KubernetesManifest
{
    /// <summary>The JSON form of a manifest: the API's camelCase names, nulls left out, indented.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // A file for kubectl, never HTML: keep ', +, < and non-ASCII as they are.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The manifest for <paramref name="o"/> as JSON (kubectl apply -f reads it); throws <see cref="ArgumentException"/> on an invalid option.</summary>
    public static string Build(KubernetesOptions o) => Serialize(JobFor(o));

    /// <summary><paramref name="job"/> as indented JSON with the API's names.</summary>
    public static string Serialize(Job job) => JsonSerializer.Serialize(job, JsonOptions) + "\n";

    /// <summary>The Job for <paramref name="o"/>, as typed objects; throws <see cref="ArgumentException"/> on an invalid option.</summary>
    public static Job JobFor(KubernetesOptions o)
    {
        Validate(o);
        string threads = o.CpusPerTask.ToString(CultureInfo.InvariantCulture);
        var labels = new Dictionary<string, string> { ["app.kubernetes.io/name"] = "iwae", ["iwae-sweep"] = o.Name };
        var resources = new Dictionary<string, string> { ["cpu"] = threads, ["memory"] = o.Memory };
        const string volume = "sweep";
        return new Job
        {
            Metadata = new ObjectMeta { Name = o.Name, Labels = labels },
            Spec = new JobSpec
            {
                // Indexed: Kubernetes sets JOB_COMPLETION_INDEX in pod i to i, which `iwae sweep run` reads as its run
                // index; an index is done once one of its pods exits 0 (a finished run exits 0 at once).
                CompletionMode = "Indexed",
                Completions = o.Runs,
                Parallelism = o.Parallelism ?? Math.Min(o.Runs, 8),
                // Retries per index, so one failing run cannot use up the retries of the others; needs restartPolicy
                // Never. A retried pod resumes from the run's checkpoint.
                BackoffLimitPerIndex = o.BackoffLimitPerIndex,
                // A pod stopped by preemption, eviction or a node drain (condition DisruptionTarget) exits 130 after
                // its checkpoint: not the run's fault, so it is replaced without using up a retry. With a pod failure
                // policy the replacement starts only after the old pod has terminated (podReplacementPolicy Failed),
                // so two pods never write the same run folder.
                PodFailurePolicy = new PodFailurePolicy
                {
                    Rules = [new PodFailurePolicyRule { Action = "Ignore", OnPodConditions = [new PodConditionPattern { Type = "DisruptionTarget", Status = "True" }] }],
                },
                Template = new PodTemplateSpec
                {
                    Metadata = new ObjectMeta { Labels = labels },
                    Spec = new PodSpec
                    {
                        RestartPolicy = "Never",
                        // SIGTERM, then this long to write the checkpoint before SIGKILL.
                        TerminationGracePeriodSeconds = o.TerminationGracePeriodSeconds,
                        Containers =
                        [
                            new Container
                            {
                                Name = "iwae",
                                Image = o.Image,
                                Command = o.Command,
                                Args = ["sweep", "run", o.SweepMountPath, "--threads", threads],
                                Env = o.Environment?.OrderBy(e => e.Key, StringComparer.Ordinal)
                                                    .Select(e => new EnvVar { Name = e.Key, Value = e.Value }).ToList(),
                                // Limits equal to requests: the Guaranteed class, the last a node under memory
                                // pressure evicts; and --threads matches the CPUs the pod gets.
                                Resources = new ResourceRequirements { Requests = resources, Limits = resources },
                                VolumeMounts = [new VolumeMount { Name = volume, MountPath = o.SweepMountPath, SubPath = o.SubPath }],
                            },
                        ],
                        Volumes = [new Volume { Name = volume, PersistentVolumeClaim = new PersistentVolumeClaimVolumeSource { ClaimName = o.ClaimName } }],
                    },
                },
            },
        };
    }

    /// <summary>
    /// A valid Job name made from <paramref name="sweepFolder"/>'s last segment: lower case, each run of other characters
    /// one '-', at most 63 characters; "iwae-sweep" when nothing is left.
    /// </summary>
    public static string NameFor(string sweepFolder)
    {
        string leaf = Path.GetFileName(sweepFolder.TrimEnd('/', '\\'));
        var s = new StringBuilder();
        foreach (char c in leaf.ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9') s.Append(c);
            else if (s.Length > 0 && s[^1] != '-') s.Append('-');
        }
        string name = s.ToString();
        if (name.Length > 63) name = name[..63];
        name = name.Trim('-');
        return name.Length == 0 ? "iwae-sweep" : name;
    }

    /// <summary>Throws <see cref="ArgumentException"/>, saying why, unless <paramref name="name"/> is a DNS-1123 label.</summary>
    public static void ValidateName(string name)
    {
        // Indexed pods' host names are "<name>-<index>", and the Job's name becomes a label value: a DNS-1123 label.
        if (name is null || name.Length is 0 or > 63 || !Dns1123Label().IsMatch(name))
            throw new ArgumentException(
                $"'{name}' is not a valid Kubernetes Job name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit.");
    }

    static void Validate(KubernetesOptions o)
    {
        ValidateName(o.Name);
        if (o.Runs < 1) throw new ArgumentException($"A sweep needs at least one run, not {o.Runs}.");
        if (o.Parallelism is < 1) throw new ArgumentException($"Parallelism must be at least 1, not {o.Parallelism}.");
        if (string.IsNullOrWhiteSpace(o.Image) || o.Image.Any(char.IsWhiteSpace))
            throw new ArgumentException($"The image must be a name without spaces, e.g. registry.example.org/me/iwae:0.1.0, not '{o.Image}'.");
        if (o.Command.Count == 0 || o.Command.Any(string.IsNullOrEmpty))
            throw new ArgumentException("The command that starts iwae is empty.");
        if (string.IsNullOrEmpty(o.SweepMountPath) || !o.SweepMountPath.StartsWith('/'))
            throw new ArgumentException($"The mount path must be absolute, not '{o.SweepMountPath}'.");
        if (string.IsNullOrWhiteSpace(o.ClaimName))
            throw new ArgumentException("The persistent volume claim that holds the sweep folder is not named.");
        if (o.SubPath is not null && (o.SubPath.Length == 0 || o.SubPath.StartsWith('/') || o.SubPath.Split('/').Contains("..")))
            throw new ArgumentException($"The sub-path must be a relative path inside the claim without '..', not '{o.SubPath}'.");
        Limits.Threads.Check(o.CpusPerTask, "cpus_per_task");
        if (!Quantity().IsMatch(o.Memory))
            throw new ArgumentException($"The memory must be a Kubernetes quantity such as 2Gi or 512Mi, not '{o.Memory}'.");
        if (o.TerminationGracePeriodSeconds < 0)
            throw new ArgumentException($"The termination grace period must be at least 0 s, not {o.TerminationGracePeriodSeconds}.");
        if (o.BackoffLimitPerIndex < 0)
            throw new ArgumentException($"The retries per index must be at least 0, not {o.BackoffLimitPerIndex}.");
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1123Label();

    // A Kubernetes quantity: a decimal number with a binary (Ki..Ei) or decimal (m, k..E) suffix, or an exponent.
    [GeneratedRegex("^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][-+]?[0-9]+)?$")]
    private static partial Regex Quantity();
}
