namespace Iwae.Experiments.Sweeps;

// The fields of the Kubernetes batch/v1 Job API that a sweep uses, under their API names (serialized in camelCase,
// nulls left out). Maps (labels, resource lists) keep their keys as written.
public static partial class KubernetesManifest
{
    /// <summary>A batch/v1 Job.</summary>
    public sealed record Job
    {
        /// <summary>Always "batch/v1".</summary>
        public string ApiVersion { get; init; } = "batch/v1";

        /// <summary>Always "Job".</summary>
        public string Kind { get; init; } = "Job";

        /// <summary>The Job's name and labels.</summary>
        public required ObjectMeta Metadata { get; init; }

        /// <summary>How many pods, how they are indexed and retried, and the pod template.</summary>
        public required JobSpec Spec { get; init; }
    }

    /// <summary>An object's name and labels.</summary>
    public sealed record ObjectMeta
    {
        /// <summary>The object's name (a DNS-1123 label for a Job), or null in a pod template.</summary>
        public string? Name { get; init; }

        /// <summary>Labels, e.g. "app.kubernetes.io/name": "iwae".</summary>
        public IReadOnlyDictionary<string, string>? Labels { get; init; }
    }

    /// <summary>A Job's spec.</summary>
    public sealed record JobSpec
    {
        /// <summary>"Indexed": pod i gets JOB_COMPLETION_INDEX = i, and each index completes once.</summary>
        public string? CompletionMode { get; init; }

        /// <summary>How many indexes (runs) must succeed.</summary>
        public int? Completions { get; init; }

        /// <summary>At most this many pods at once.</summary>
        public int? Parallelism { get; init; }

        /// <summary>Failed pods tolerated for the whole Job (null: the API's default).</summary>
        public int? BackoffLimit { get; init; }

        /// <summary>Failed pods tolerated per index before that index is failed (Indexed Jobs with restartPolicy Never).</summary>
        public int? BackoffLimitPerIndex { get; init; }

        /// <summary>Which pod failures count against the backoff limits.</summary>
        public PodFailurePolicy? PodFailurePolicy { get; init; }

        /// <summary>The pods' template.</summary>
        public required PodTemplateSpec Template { get; init; }
    }

    /// <summary>Rules, evaluated in order, that decide what a failed pod means for the Job.</summary>
    public sealed record PodFailurePolicy
    {
        /// <summary>The rules; the first that matches decides.</summary>
        public required IReadOnlyList<PodFailurePolicyRule> Rules { get; init; }
    }

    /// <summary>One rule of a <see cref="PodFailurePolicy"/>.</summary>
    public sealed record PodFailurePolicyRule
    {
        /// <summary>"Ignore" (not counted, pod replaced), "Count", "FailIndex" or "FailJob".</summary>
        public required string Action { get; init; }

        /// <summary>The rule matches when the failed pod has one of these conditions.</summary>
        public IReadOnlyList<PodConditionPattern>? OnPodConditions { get; init; }
    }

    /// <summary>A pod condition a <see cref="PodFailurePolicyRule"/> matches.</summary>
    public sealed record PodConditionPattern
    {
        /// <summary>The condition type, e.g. "DisruptionTarget" (preemption, eviction, node drain).</summary>
        public required string Type { get; init; }

        /// <summary>The condition's status, "True".</summary>
        public string? Status { get; init; }
    }

    /// <summary>A pod template: labels and spec.</summary>
    public sealed record PodTemplateSpec
    {
        /// <summary>The pods' labels.</summary>
        public ObjectMeta? Metadata { get; init; }

        /// <summary>The pods' spec.</summary>
        public required PodSpec Spec { get; init; }
    }

    /// <summary>A pod's spec.</summary>
    public sealed record PodSpec
    {
        /// <summary>"Never": a failed pod is replaced by the Job controller (required by backoffLimitPerIndex).</summary>
        public required string RestartPolicy { get; init; }

        /// <summary>Seconds between SIGTERM and SIGKILL when the pod is stopped.</summary>
        public long? TerminationGracePeriodSeconds { get; init; }

        /// <summary>The containers.</summary>
        public required IReadOnlyList<Container> Containers { get; init; }

        /// <summary>The volumes the containers may mount.</summary>
        public IReadOnlyList<Volume>? Volumes { get; init; }
    }

    /// <summary>A container.</summary>
    public sealed record Container
    {
        /// <summary>The container's name.</summary>
        public required string Name { get; init; }

        /// <summary>The image.</summary>
        public required string Image { get; init; }

        /// <summary>The executable and its first arguments (replaces the image's ENTRYPOINT); run directly, with no shell.</summary>
        public IReadOnlyList<string>? Command { get; init; }

        /// <summary>The arguments (replace the image's CMD).</summary>
        public IReadOnlyList<string>? Args { get; init; }

        /// <summary>Environment variables.</summary>
        public IReadOnlyList<EnvVar>? Env { get; init; }

        /// <summary>CPU and memory requests and limits.</summary>
        public ResourceRequirements? Resources { get; init; }

        /// <summary>Where the volumes appear in the container.</summary>
        public IReadOnlyList<VolumeMount>? VolumeMounts { get; init; }
    }

    /// <summary>An environment variable.</summary>
    public sealed record EnvVar
    {
        /// <summary>The name.</summary>
        public required string Name { get; init; }

        /// <summary>The value.</summary>
        public required string Value { get; init; }
    }

    /// <summary>Resource requests and limits, as Kubernetes quantities ("2", "500m", "2Gi").</summary>
    public sealed record ResourceRequirements
    {
        /// <summary>What the scheduler reserves: "cpu", "memory".</summary>
        public IReadOnlyDictionary<string, string>? Requests { get; init; }

        /// <summary>What the container may use at most: "cpu", "memory".</summary>
        public IReadOnlyDictionary<string, string>? Limits { get; init; }
    }

    /// <summary>A volume mounted into a container.</summary>
    public sealed record VolumeMount
    {
        /// <summary>The volume's name in the pod spec.</summary>
        public required string Name { get; init; }

        /// <summary>The absolute path in the container.</summary>
        public required string MountPath { get; init; }

        /// <summary>A folder inside the volume to mount instead of its root, or null.</summary>
        public string? SubPath { get; init; }
    }

    /// <summary>A pod volume; here always a persistent volume claim.</summary>
    public sealed record Volume
    {
        /// <summary>The name mounts refer to.</summary>
        public required string Name { get; init; }

        /// <summary>The claim the volume is.</summary>
        public PersistentVolumeClaimVolumeSource? PersistentVolumeClaim { get; init; }
    }

    /// <summary>A volume backed by a persistent volume claim.</summary>
    public sealed record PersistentVolumeClaimVolumeSource
    {
        /// <summary>The claim's name, in the Job's namespace.</summary>
        public required string ClaimName { get; init; }
    }
}
