import { PageSkeleton } from "../../../../components/ui";

/** Shown while a console page renders on the server. */
export default PageSkeleton;
