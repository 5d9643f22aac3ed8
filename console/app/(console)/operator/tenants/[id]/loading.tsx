import { PageSkeleton } from "../../../../../components/ui";

/** Shown while a tenant's operator page renders on the server. */
export default PageSkeleton;
